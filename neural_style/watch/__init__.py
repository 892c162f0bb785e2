"""What watches a run: the loss record, snapshots and CSV log, progress lines, the timelapse, the live page
(with its `web/` assets) and the notebook view."""
