-- The topology's accounts with no record delivered today (UTC, the logs delivered so far), with the records delivered for them yesterday (0: silent since 1 day ago at least), ordered by account: an account whose logging stopped, left the organization trail, or has nothing running. Reads today's and yesterday's logs only.
WITH delivered AS (
    SELECT account, count_if(timestamp = date_format(current_date, '%Y/%m/%d')) AS today, count(*) AS records
    FROM org_cloudtrail
    WHERE timestamp >= date_format(current_date - INTERVAL '1' DAY, '%Y/%m/%d')
    GROUP BY 1
)
SELECT
    t.account,
    coalesce(d.records - d.today, 0) AS records_yesterday
FROM UNNEST(split('{{organization_accounts}}', ',')) AS t (account)
LEFT JOIN delivered d ON d.account = t.account
WHERE coalesce(d.today, 0) = 0
ORDER BY t.account;
