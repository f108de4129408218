-- usagekit analysis query (Athena/Trino SQL). {source} is the quoted table, {where} the
-- shared filter, and every other {name} a bound ? parameter: see usagekit.analyses.render.
SELECT CAST(from_iso8601_timestamp("date") AS timestamp) AS "date",
       sum(requests) AS requests, sum(status200) AS status200, sum(status300) AS status300,
       sum(status400) AS status400, sum(status429) AS status429, sum(status500) AS status500,
       CAST(sum(status429) AS DOUBLE) / nullif(sum(requests), 0) AS rate429,
       CAST(sum(status400) + sum(status500) AS DOUBLE) / nullif(sum(requests), 0) AS error_rate
FROM {source}
WHERE {where}
GROUP BY 1
ORDER BY 1
