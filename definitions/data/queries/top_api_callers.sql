-- The 25 principals with the most API calls today (UTC, the logs delivered so far; a role's sessions count as the role), most calls first, with their failed calls, operations and source addresses: a spike or a new caller stands out.
SELECT
    coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn, useridentity.invokedby, useridentity.principalid) AS principal,
    count(*) AS calls,
    count_if(errorcode IS NOT NULL) AS failed_calls,
    count(DISTINCT eventname) AS operations,
    count(DISTINCT sourceipaddress) AS source_addresses
FROM cloudtrail
WHERE timestamp = date_format(current_date, '%Y/%m/%d')
GROUP BY 1
ORDER BY calls DESC, principal
LIMIT 25;
