// Package kit is the kit spec (kit.yaml) and its validation, the content
// model of a kit (kit.json and the sources it records), Build (sources to a
// signed bundle) and Inspect (an unverified look inside a kit).
//
// Spec validation never touches the network or reads a source's content:
// every mistake in kit.yaml is reported, each with the file, line, field and
// a stable code, before anything is fetched. Spec.CheckLocal then reads the
// local files a kit would carry, still without the network, and refuses
// private keys; Build runs it first. Time comes in through options;
// the package never reads the clock or the environment.
package kit
