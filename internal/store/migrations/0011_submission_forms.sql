-- The form data moves out of the submissions row. That row is rewritten by
-- every status change (seven or more per submission); with the form inside
-- (kilobytes, overflow pages) each rewrite copied it again. The column
-- submissions.form stays, emptied, for compatibility.
CREATE TABLE submission_forms (
    submission_id TEXT PRIMARY KEY REFERENCES submissions (id),
    form          TEXT NOT NULL
);
INSERT INTO submission_forms (submission_id, form) SELECT id, form FROM submissions;
UPDATE submissions SET form = '';
