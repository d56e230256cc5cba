"""Drawing helpers shared by pages (never registered as pages themselves)."""
