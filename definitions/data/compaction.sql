-- Copies one delivery day of the cloudtrail table into cloudtrail_compact: the day before the instant given as both parameters (ISO 8601, the schedule's time), every region, each record once. When that day is already in the compact table it adds nothing, so running it twice for a day is harmless.
INSERT INTO cloudtrail_compact
SELECT
    eventversion,
    useridentity,
    eventtime,
    eventsource,
    eventname,
    awsregion,
    sourceipaddress,
    useragent,
    errorcode,
    errormessage,
    requestparameters,
    responseelements,
    additionaleventdata,
    requestid,
    eventid,
    resources,
    eventtype,
    apiversion,
    readonly,
    recipientaccountid,
    serviceeventdetails,
    sharedeventid,
    vpcendpointid,
    vpcendpointaccountid,
    eventcategory,
    addendum,
    sessioncredentialfromconsole,
    edgedevicedetails,
    tlsdetails,
    region,
    replace(timestamp, '/', '-') AS day,
    -- Records from before CloudTrail wrote eventCategory are management events.
    coalesce(eventcategory, 'Management') AS category
FROM cloudtrail
WHERE timestamp = date_format(date(from_iso8601_timestamp(?)) - INTERVAL '1' DAY, '%Y/%m/%d')
  AND NOT EXISTS (
      SELECT 1
      FROM cloudtrail_compact
      WHERE day = date_format(date(from_iso8601_timestamp(?)) - INTERVAL '1' DAY, '%Y-%m-%d')
  )
