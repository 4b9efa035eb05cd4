"""What the instructor and the students read: feedback pages (:mod:`.feedback`), grade exports
(:mod:`.export`, also as nbgrader export plugins), the grading summary and progress bar
(:mod:`.summary`)."""
