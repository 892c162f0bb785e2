"""A run's stages, in the order a picture passes them: `request` (what was asked, checked and resolved) ->
`sources` (the images loaded and sized) -> `starts` (the picture the optimiser starts from) -> `pipeline` (each scale's
objective and optimiser, every iteration a `step.Step` to the watchers) -> `render` (the picture as the user gets it:
colours, alpha, the file). `api.stylize`, video frames and batch jobs all go through these."""
