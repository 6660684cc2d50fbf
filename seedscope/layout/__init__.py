"""Layout of seeds (paper section 4.3): where, how large and how deep each image places its
prompt's object, per-seed layouts with intervals, and how much of the layout the seed explains."""
