-- usagekit analysis query (Athena/Trino SQL). {source} is the quoted table, {where} the
-- shared filter, and every other {name} a bound ? parameter: see usagekit.analyses.render.
WITH base AS (
    SELECT clientId AS clientid, max(clientName) AS clientname,
           from_iso8601_timestamp("date") AS ts,
           sum(CASE {metric}
                   WHEN 'requests' THEN requests WHEN 'status200' THEN status200
                   WHEN 'status300' THEN status300 WHEN 'status400' THEN status400
                   WHEN 'status429' THEN status429 WHEN 'status500' THEN status500
               END) AS value
    FROM {source}
    WHERE {where}
    GROUP BY clientId, from_iso8601_timestamp("date")
), periods AS (
    SELECT ts, row_number() OVER (ORDER BY ts) AS idx
    FROM (SELECT DISTINCT ts FROM base) p
), clients AS (
    SELECT clientid, max(clientname) AS clientname FROM base GROUP BY clientid
), grid AS (
    SELECT p.ts, p.idx, c.clientid, c.clientname, coalesce(b.value, 0) AS value
    FROM periods p
    CROSS JOIN clients c
    LEFT JOIN base b ON b.clientid = c.clientid AND b.ts = p.ts
), scored AS (
    SELECT g.ts, g.clientid, g.clientname, g.value,
           avg(h.value) AS baseline_mean, stddev_samp(h.value) AS baseline_sd,
           count(*) AS baseline_periods
    FROM grid g
    JOIN grid h ON h.clientid = g.clientid AND h.idx BETWEEN g.idx - {window} AND g.idx - 1
    GROUP BY g.ts, g.clientid, g.clientname, g.value
)
SELECT CAST(ts AS timestamp) AS "date", clientid, clientname, value, baseline_mean,
       baseline_sd, (value - baseline_mean) / nullif(baseline_sd, 0) AS score
FROM scored
WHERE baseline_periods = {window} AND value >= {min_value}
  AND value > baseline_mean + CAST({k} AS DOUBLE) * baseline_sd
ORDER BY 1, 2
