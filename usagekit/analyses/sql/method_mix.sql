-- usagekit analysis query (Athena/Trino SQL). {source} is the quoted table, {where} the
-- shared filter, and every other {name} a bound ? parameter: see usagekit.analyses.render.
SELECT httpMethod AS httpmethod, sum(requests) AS requests,
       sum(status400) + sum(status500) AS errors, sum(status429) AS status429,
       CAST(sum(requests) AS DOUBLE) / nullif(sum(sum(requests)) OVER (), 0) AS share
FROM {source}
WHERE {where}
GROUP BY httpMethod
ORDER BY 2 DESC, 1
