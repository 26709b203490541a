-- wrk script for bench/storage.sh: every request is a POST with an empty body.
wrk.method = "POST"
