"""The judge and its workers: graded tests that student code cannot fool.

A graded test runs in the *judge* (pytest, Hypothesis, PyTorch and minicnn's
references); the student's code runs only in a *worker* process, one per
exercise. Read in this order:

* :mod:`.wire`      what crosses the pipe: plain data and ``.npy`` arrays, never pickle;
* :mod:`.proxy`     the other process's objects, seen here;
* :mod:`.mirror`    tensors kept in step on both sides, and backward passes that cross;
* :mod:`.peer`      one end of the pipe: requests, callbacks, what a worker may ask of the judge;
* :mod:`.sandbox`   starting, limiting and ending a worker (the judge's side);
* :mod:`.worker`    the worker's side: limits, guards, the audit hook, then serving;
* :mod:`.shortcuts` what each exercise must not call, checked statically and at run time;
* :mod:`.strategy`  a student's Hypothesis strategy, drawn from in the worker.

docs/instructor.md ("How the grader isolates student code") tells the whole story.
"""
