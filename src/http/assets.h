/*
 * Files served as they are, embedded in the library at build time
 * (cmake/embed.cmake generates their C arrays from the sources here).
 */
#ifndef TT_HTTP_ASSETS_H
#define TT_HTTP_ASSETS_H

/* src/http/tasks_page.html: the live task page, /debug/tasks. It reads
 * tasks.json next to it (tasks_json.h). NUL-terminated; _len excludes the
 * NUL. */
extern const char tt__http_tasks_page[];
extern const unsigned long tt__http_tasks_page_len;

#define TT_HTTP_TASKS_PAGE_CONTENT_TYPE "text/html; charset=utf-8"

#endif
