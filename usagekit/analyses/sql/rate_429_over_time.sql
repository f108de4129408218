-- usagekit analysis query (Athena/Trino SQL). {source} is the quoted table, {where} the
-- shared filter, and every other {name} a bound ? parameter: see usagekit.analyses.render.
WITH selected AS (
    SELECT clientId AS clientid, clientName AS clientname,
           from_iso8601_timestamp("date") AS ts, status429, requests
    FROM {source}
    WHERE {where} AND ({client_id} = '' OR clientId = {client_id})
), ranked AS (
    SELECT clientid, row_number() OVER (ORDER BY sum(status429) DESC, clientid) AS r
    FROM selected
    GROUP BY clientid
    HAVING sum(status429) > 0 OR {client_id} <> ''
)
SELECT CAST(s.ts AS timestamp) AS "date", s.clientid, max(s.clientname) AS clientname,
       sum(s.requests) AS requests, sum(s.status429) AS status429,
       CAST(sum(s.status429) AS DOUBLE) / nullif(sum(s.requests), 0) AS rate429
FROM selected s
JOIN ranked k ON k.clientid = s.clientid
WHERE k.r <= {top}
GROUP BY s.ts, s.clientid
ORDER BY 1, 2
