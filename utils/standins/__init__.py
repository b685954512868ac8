"""Stand-ins for outside services, used by the rehearsal and the tests: each provider's documented rules played on
loopback (the provider zoo), and the rehearsal's environment."""
