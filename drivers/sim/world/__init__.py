"""One simulated community: one physical model and one clock behind the protocol faces."""
