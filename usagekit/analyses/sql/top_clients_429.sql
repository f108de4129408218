-- usagekit analysis query (Athena/Trino SQL). {source} is the quoted table, {where} the
-- shared filter, and every other {name} a bound ? parameter: see usagekit.analyses.render.
WITH totals AS (
    SELECT clientId AS clientid, max(clientName) AS clientname,
           sum(status429) AS status429, sum(requests) AS requests
    FROM {source}
    WHERE {where}
    GROUP BY clientId
), ranked AS (
    SELECT clientid, clientname, status429, requests,
           CAST(status429 AS DOUBLE) / nullif(requests, 0) AS rate429,
           row_number() OVER (ORDER BY status429 DESC, clientid) AS "rank"
    FROM totals
    WHERE status429 > 0
)
SELECT "rank", clientid, clientname, status429, requests, rate429
FROM ranked
WHERE "rank" <= {limit}
ORDER BY "rank"
