-- Principals with the most denied calls in the last 7 days: probing, or a broken deployment.
SELECT
    useridentity.arn AS principal_arn,
    eventsource,
    eventname,
    count(*) AS denied_calls
FROM cloudtrail
WHERE (errorcode LIKE '%UnauthorizedOperation' OR errorcode LIKE 'AccessDenied%')
  AND timestamp >= date_format(current_date - INTERVAL '7' DAY, '%Y/%m/%d')
GROUP BY 1, 2, 3
ORDER BY denied_calls DESC
LIMIT 50;
