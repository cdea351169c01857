"""The console's screens: each a place the app navigates to."""
