// A device written with the AWS IoT Device SDK for JavaScript, with the
// SDK's default options (metrics on), as firmware for AWS IoT Core is
// written: it connects with its certificate, reports a value in its
// classic shadow, takes a desired value from the delta, and reads the
// shadow back. It prints one JSON line with what it saw and exits 0, or
// prints the failure and exits 1.
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
const shadows = awsIot.thingShadow({
  host: env('HEARTH_HOST'),
  port: Number(env('HEARTH_PORT')),
  protocol: 'mqtts',
  clientId: thing,
  certPath: env('CERT'),
  keyPath: env('KEY'),
  caPath: env('CA'),
});
const seen = {};
const fail = (why) => { console.error(why); process.exit(1); };
setTimeout(() => fail('timed out; saw ' + JSON.stringify(seen)), 20000).unref();

// Once the result is printed the client is closing, and a reset of its
// connection then is the end of the run, not a failure.
let finished = false;
shadows.on('error', (err) => (finished ? process.exit(0) : fail('error: ' + err.message)));
shadows.on('connect', () => {
  shadows.register(thing, {}, () => {
    seen.registered = true;
    if (shadows.update(thing, { state: { reported: { chw_setpoint: 7.5, firmware: 'sdk-js' } } }) === null) {
      fail('update refused by the SDK');
    }
  });
});
shadows.on('delta', (name, doc) => {
  seen.delta = doc.state;
  shadows.update(name, { state: { reported: doc.state } });
});
shadows.on('status', (name, stat, token, doc) => {
  if (stat !== 'accepted') { fail('status ' + stat + ': ' + JSON.stringify(doc)); }
  seen.accepted = (seen.accepted || 0) + 1;
  if (doc.state && doc.state.reported && doc.state.reported.chw_setpoint === 8 && !seen.got) {
    seen.got = true;
    shadows.get(name);
    return;
  }
  if (seen.got && doc.state && doc.state.desired !== undefined) {
    seen.final = doc.state;
    console.log(JSON.stringify(seen));
    finished = true;
    shadows.end(false, () => process.exit(0));
  }
});
