-- usagekit analysis query (Athena/Trino SQL). {source} is the quoted table, {where} the
-- shared filter, and every other {name} a bound ? parameter: see usagekit.analyses.render.
SELECT CAST(from_iso8601_timestamp("date") AS timestamp) AS "date", clientId AS clientid,
       max(clientName) AS clientname, sum(requests) AS requests
FROM {source}
WHERE {where}
GROUP BY 1, 2
ORDER BY 1, 2
