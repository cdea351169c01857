"""Settings, hosts and run profiles (TOML via tomllib) and where they live (platformdirs)."""
