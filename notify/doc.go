// Package notify delivers notifications: a Message enqueued in the
// store's outbox in one transaction, then sent by a worker of each channel
// to a webhook (a signed CloudEvents 1.0 event), a Slack incoming webhook
// (Block Kit) or by e-mail (SMTP with STARTTLS), retried with a jittered
// exponential backoff until it is delivered or given up as a dead letter.
//
// It owns the delivery rules: which URLs a channel may call, how messages
// of one group arriving together become one, what users' quiet hours and
// severities hold back, and the counters of what happened. It does not
// decide who may configure a channel (the gate does), nor when an alarm
// is raised (the alarms do, and call Enqueue). It knows no channel of its
// own (web, broker): what it needs of the store is the Store interface.
package notify
