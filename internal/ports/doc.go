// Package ports finds free loopback ports for the programs that start
// servers of their own on fixed ports: local clusters for tests and
// for stegoctl's bench commands.
package ports
