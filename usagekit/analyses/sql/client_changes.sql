-- usagekit analysis query (Athena/Trino SQL). {source} is the quoted table, {where} the
-- shared filter, and every other {name} a bound ? parameter: see usagekit.analyses.render.
WITH base AS (
    SELECT clientId AS clientid, max(clientName) AS clientname,
           from_iso8601_timestamp("date") AS ts, sum(requests) AS requests
    FROM {source}
    WHERE {where}
    GROUP BY clientId, from_iso8601_timestamp("date")
), periods AS (
    SELECT ts, lag(ts) OVER (ORDER BY ts) AS prev_ts
    FROM (SELECT DISTINCT ts FROM base) p
), clients AS (
    SELECT clientid, max(clientname) AS clientname FROM base GROUP BY clientid
), compared AS (
    SELECT p.ts, c.clientid, c.clientname,
           coalesce(cur.requests, 0) AS requests,
           coalesce(prev.requests, 0) AS previous_requests
    FROM periods p
    CROSS JOIN clients c
    LEFT JOIN base cur ON cur.clientid = c.clientid AND cur.ts = p.ts
    LEFT JOIN base prev ON prev.clientid = c.clientid AND prev.ts = p.prev_ts
    WHERE p.prev_ts IS NOT NULL
), classified AS (
    SELECT ts, clientid, clientname, requests, previous_requests,
           CAST(requests AS DOUBLE) / nullif(previous_requests, 0) AS ratio,
           CASE
               WHEN previous_requests = 0 AND requests > 0 THEN 'appeared'
               WHEN requests = 0 AND previous_requests > 0 THEN 'vanished'
               WHEN previous_requests > 0
                    AND requests >= CAST({factor} AS DOUBLE) * previous_requests THEN 'surged'
               WHEN requests > 0
                    AND requests * CAST({factor} AS DOUBLE) <= previous_requests THEN 'dropped'
           END AS "change"
    FROM compared
)
SELECT CAST(ts AS timestamp) AS "date", clientid, clientname, "change", requests,
       previous_requests, ratio
FROM classified
WHERE "change" IS NOT NULL AND greatest(requests, previous_requests) >= {min_requests}
ORDER BY 1, 2
