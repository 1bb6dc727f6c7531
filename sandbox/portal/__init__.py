"""The Focaltec portal stand-in: views in the spec's shapes, state per portal tenant, seeding from a Plan."""
