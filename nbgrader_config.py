"""nbgrader configuration of the course "Residual Connections" (see INSTRUCTORS.md).

Copy this file into a course directory and run every ``nbgrader`` command from there. The
course's source notebooks are the repository's ``solutions/NN_topic.ipynb``; nbgrader wants one
folder per assignment, so they are staged as ``<course>/solutions/NN_topic/NN_topic.ipynb``
(``python tests/grading/pipeline.py init <course>`` does it).
"""

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "residual-connections"
c.CourseDirectory.source_directory = "solutions"  # the repository's solutions/, one folder each
c.CourseDirectory.release_directory = "release"  # what learners get (= the repository's exercises/)

# Every notebook runs in the course environment's "python3" kernel; a generous per-cell limit
# (each exercise grades in well under a minute on two CPU cores), after which the cell is
# interrupted, counts as failed, and grading goes on with the next cell and the next student.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.Execute.kernel_name = "python3"
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True
c.ExecutePreprocessor.kernel_name = "python3"

# A learner who deleted a test cell gets it back (and graded) instead of losing the points'
# bookkeeping; edited test and read-only cells are restored from the gradebook anyway.
c.OverwriteCells.add_missing_cells = True

# Files downloaded from an LMS: "<student>_attempt_<YYYYMMDDTHHMMSS>_<notebook>.ipynb", loose
# or inside zip archives, in downloaded/<assignment>/archive/ (nbgrader zip_collect).
c.ZipCollectApp.collector_plugin = "nbgrader.plugins.FileNameCollectorPlugin"
c.FileNameCollectorPlugin.named_regexp = (
    r"(?:.*/)?(?P<student_id>[a-z0-9-]+)_attempt_(?P<timestamp>[0-9T]+)_(?P<file_id>\w+)\.ipynb$"
)
