-- Successful console sign-ins without MFA by IAM users and the root user since 30 days ago, newest first (federated sign-ins are left out: their MFA is the identity provider's).
SELECT
    eventtime,
    useridentity.type AS identity_type,
    useridentity.arn AS principal,
    sourceipaddress,
    useragent
FROM cloudtrail
WHERE timestamp >= date_format(current_date - INTERVAL '30' DAY, '%Y/%m/%d')
  AND eventsource = 'signin.amazonaws.com'
  AND eventname = 'ConsoleLogin'
  AND useridentity.type IN ('IAMUser', 'Root')
  AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Success'
  AND json_extract_scalar(additionaleventdata, '$.MFAUsed') = 'No'
ORDER BY eventtime DESC, eventid;
