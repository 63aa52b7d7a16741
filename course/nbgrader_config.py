"""nbgrader configuration of the metagan_lab exercises (run nbgrader from this folder).

source/exNN/exNN_….ipynb   the one source per exercise notebook: reference solutions between
                           ### BEGIN SOLUTION / ### END SOLUTION, check cells as autograded tests
release/exNN/              student versions (`nbgrader generate_assignment exNN`); `make exercises`
                           copies them to notebooks/exercises/, which is what learners open
submitted/, autograded/,   nbgrader's usual folders once submissions are collected (not committed)
feedback/, gradebook.db
"""

c = get_config()  # noqa: F821 (nbgrader provides get_config)

c.CourseDirectory.course_id = "metagan_lab"
# The stub learners see in place of a solution region (nbgrader's default adds "# YOUR CODE HERE";
# the ✏️ line above each function already says what to do).
c.ClearSolutions.code_stub = {"python": "raise NotImplementedError"}
# Each exercise notebook imports torch and runs its checks in a few seconds.
c.ExecutePreprocessor.timeout = 120
