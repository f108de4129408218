-- usagekit explorer query (Athena/Trino SQL): the selection's counts per period.
-- {filters} holds the selection's conditions, each value a bound ? like every {name}.
SELECT CAST(from_iso8601_timestamp("date") AS timestamp) AS "date",
       sum(requests) AS requests, sum(status429) AS status429,
       sum(status400) + sum(status500) AS errors
FROM {source}
WHERE {where}{filters}
GROUP BY 1
ORDER BY 1
