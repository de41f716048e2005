-- gc pages through an S3 store's objects and asks which keys a row names, a page at a time: an
-- object no row names is left by an upload that failed after its object appeared. Without an
-- index that is a scan of every blob per page.
CREATE INDEX artifact_blob_locator_idx ON artifact_blob (store_url, locator)
    WHERE locator IS NOT NULL;
