-- Principals with the most denied calls since 7 days ago (UTC days), the top 50 only: probing, or a broken deployment.
SELECT
    coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid) AS principal,
    eventsource,
    eventname,
    count(*) AS denied_calls
FROM cloudtrail
WHERE timestamp >= date_format(current_date - INTERVAL '7' DAY, '%Y/%m/%d')
  AND (errorcode LIKE '%UnauthorizedOperation' OR errorcode LIKE 'AccessDenied%')
GROUP BY 1, 2, 3
ORDER BY denied_calls DESC, principal, eventsource, eventname
LIMIT 50;
