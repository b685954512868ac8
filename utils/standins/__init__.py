"""Stand-ins for outside services, used by the rehearsal and the tests: a loopback HTTP server, each provider's
documented rules played on loopback (the provider zoo), an overloaded front, and the rehearsal's environment."""
