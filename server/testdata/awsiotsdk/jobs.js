// A device written with the AWS IoT Device SDK for JavaScript's jobs
// client, with the SDK's default options, as firmware for AWS IoT Jobs is
// written: it subscribes to the jobs of operation "update-agent" and asks
// for its next job; when one comes it reports IN_PROGRESS, then SUCCEEDED
// with the version from the job document. It prints one JSON line with
// what it saw and exits 0, or prints the failure and exits 1.
//
// Environment: HEARTH_HOST, HEARTH_PORT, THING, CERT, KEY, CA.
'use strict';
const awsIot = require('aws-iot-device-sdk');

const env = (k) => {
  const v = process.env[k];
  if (!v) { console.error('missing ' + k); process.exit(2); }
  return v;
};
const thing = env('THING');
const jobs = awsIot.jobs({
  host: env('HEARTH_HOST'),
  port: Number(env('HEARTH_PORT')),
  protocol: 'mqtts',
  clientId: thing,
  certPath: env('CERT'),
  keyPath: env('KEY'),
  caPath: env('CA'),
});
const seen = { jobs: [] };
const fail = (why) => { console.error(why); process.exit(1); };
setTimeout(() => fail('timed out; saw ' + JSON.stringify(seen)), 20000).unref();

let finished = false;
jobs.on('error', (err) => (finished ? process.exit(0) : fail('error: ' + err.message)));
jobs.on('connect', () => {
  jobs.subscribeToJobs(thing, 'update-agent', (err, job) => {
    if (err) { fail('job: ' + err); }
    seen.jobs.push({ id: job.id, status: job.status.status, version: job.document.version });
    job.inProgress({ step: 'installing' }, (err) => {
      if (err) { fail('in progress: ' + err); }
      job.succeeded({ version: job.document.version }, (err) => {
        if (err) { fail('succeeded: ' + err); }
        console.log(JSON.stringify(seen));
        finished = true;
        // Stay connected a moment, so that a second offer of the same job
        // would be seen.
        setTimeout(() => jobs.end(false, () => process.exit(0)), 500);
      });
    });
  });
  jobs.startJobNotifications(thing, (err) => {
    if (err) { fail('start notifications: ' + err); }
    seen.ready = true;
    console.error('ready');
  });
});
