-- usagekit explorer query (Athena/Trino SQL): the interval's counts per client and endpoint.
-- {source} is the quoted table, {where} the shared filter, every other {name} a bound ?.
SELECT clientId AS clientid, max(clientName) AS clientname, templateUri AS templateuri,
       httpMethod AS httpmethod, sum(requests) AS requests, sum(status429) AS status429,
       sum(status400) + sum(status500) AS errors
FROM {source}
WHERE {where}
GROUP BY clientId, templateUri, httpMethod
