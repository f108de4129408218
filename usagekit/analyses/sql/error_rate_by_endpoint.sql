-- usagekit analysis query (Athena/Trino SQL). {source} is the quoted table, {where} the
-- shared filter, and every other {name} a bound ? parameter: see usagekit.analyses.render.
WITH totals AS (
    SELECT templateUri AS templateuri, httpMethod AS httpmethod, sum(requests) AS requests,
           sum(status400) AS status400, sum(status429) AS status429,
           sum(status500) AS status500
    FROM {source}
    WHERE {where}
    GROUP BY templateUri, httpMethod
), rated AS (
    SELECT templateuri, httpmethod, requests, status400, status429, status500,
           status400 + status500 AS errors,
           CAST(status400 + status500 AS DOUBLE) / requests AS error_rate,
           CAST(status429 AS DOUBLE) / requests AS rate429
    FROM totals
    WHERE requests >= {min_requests}
), ranked AS (
    SELECT templateuri, httpmethod, requests, status400, status429, status500, errors,
           error_rate, rate429,
           row_number() OVER (ORDER BY error_rate DESC, requests DESC, templateuri,
                              httpmethod) AS "rank"
    FROM rated
)
SELECT "rank", templateuri, httpmethod, requests, status400, status429, status500, errors,
       error_rate, rate429
FROM ranked
WHERE "rank" <= {limit}
ORDER BY "rank"
