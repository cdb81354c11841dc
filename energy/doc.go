// Package energy reckons a site's energy outcomes from daily figures, as
// energy-service contracts measure them (IPMVP Option C, whole
// facility): heating and cooling degree-days, a baseline model of daily
// gas use fitted by least squares (gonum) on degree-days and the
// operating calendar's day types, its statistics against ASHRAE
// Guideline 14's limits, the baseline adjusted to a reporting period's
// weather, avoided energy and its uncertainty; and the monthly report as
// a PDF. It is pure: figures in, figures out; it reads no store.
package energy
