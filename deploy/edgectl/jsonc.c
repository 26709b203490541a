/*
 * JSON with comments, as wrangler.jsonc (and, in practice, wrangler.json) are written: // and
 * slash-star comments and trailing commas before } or ]. They are overwritten with spaces in a
 * copy (newlines inside a block comment are kept) so that jansson, which parses the rest,
 * reports the line and column of the file the user edits. Strings are tracked so that "//" in
 * a URL is not mistaken for a comment.
 */
#include <stdlib.h>
#include <string.h>

#include "deploy/edgectl/edgectl.h"

int dp_jsonc_parse(const char *text, size_t len, const char *name, json_t **out,
                   struct ed_error *err)
{
    *out = NULL;
    name = name ? name : "json";
    char *s = malloc(len + 1);
    if (!s)
        return ed_error_set(err, ED_ENOMEM, "%s: out of memory", name);
    memcpy(s, text, len);
    s[len] = '\0';
    size_t i = 0;
    if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
        memset(s, ' ', 3);
        i = 3;
    }
    int line = 1;
    /* The last comma outside a string with only blanks and comments after it, or -1: a } or ]
     * that follows makes it a trailing comma. */
    long comma = -1;
    /* the last significant character: a comma after '{', '[', ':' or ',' is not trailing but
     * wrong, and stays for jansson to report where it is */
    char prev = 0;
    int rc = 0;
    while (i < len) {
        char c = s[i];
        if (c == '\n') {
            line++;
            i++;
        } else if (c == '"') {
            comma = -1;
            prev = '"';
            for (i++; i < len && s[i] != '"'; i++) {
                if (s[i] == '\\' && i + 1 < len)
                    i++;
                else if (s[i] == '\n')
                    break; /* jansson reports the unterminated string */
            }
            i++;
        } else if (c == '/' && i + 1 < len && s[i + 1] == '/') {
            while (i < len && s[i] != '\n')
                s[i++] = ' ';
        } else if (c == '/' && i + 1 < len && s[i + 1] == '*') {
            int start = line;
            s[i] = s[i + 1] = ' ';
            i += 2;
            while (i < len && !(s[i] == '*' && i + 1 < len && s[i + 1] == '/')) {
                if (s[i] == '\n')
                    line++;
                else
                    s[i] = ' ';
                i++;
            }
            if (i >= len) {
                rc = ed_error_set(err, ED_ECONFIG, "%s:%d: unterminated /* comment", name, start);
                goto out_s;
            }
            s[i] = s[i + 1] = ' ';
            i += 2;
        } else if (c == ',') {
            comma = prev && !strchr("{[:,", prev) ? (long)i : -1;
            prev = c;
            i++;
        } else if (c == '}' || c == ']') {
            if (comma >= 0)
                s[comma] = ' ';
            comma = -1;
            prev = c;
            i++;
        } else {
            if (c != ' ' && c != '\t' && c != '\r') {
                comma = -1;
                prev = c;
            }
            i++;
        }
    }
    json_error_t je;
    json_t *doc = json_loadb(s, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        rc = ed_error_set(err, ED_ECONFIG, "%s:%d:%d: %s", name, je.line, je.column, je.text);
        goto out_s;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        rc = ed_error_set(err, ED_ECONFIG, "%s: the top level must be an object", name);
        goto out_s;
    }
    *out = doc;
out_s:
    free(s);
    return rc;
}
