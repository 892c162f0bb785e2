"""The objective: a list of named, weighted terms (content, style, total variation, temporal), evaluated
with its gradient on the whole image or tile by tile."""
