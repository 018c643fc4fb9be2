/* The part of libyaml's C ABI that csrc/_yaml_c.pyx reads, declared here so the
 * build needs no libyaml headers: the walker calls the libyaml linked into
 * ruamel.yaml.clib's extension (bound at import with dlsym), whose ABI is that
 * of the soname libyaml-0.so.2 (releases 0.1.x and 0.2.x alike).
 *
 * The parser struct is only allocated (SPECOPS_YAML_PARSER_BYTES, several times
 * libyaml's own sizeof, zeroed) and its leading error fields read; the event
 * struct is declared whole, because the walker reads it by field.
 */
#ifndef SPECOPS_YAML_ABI_H
#define SPECOPS_YAML_ABI_H

#include <stddef.h>

typedef enum {
    SPECOPS_YAML_NO_ERROR,
    SPECOPS_YAML_MEMORY_ERROR,
    SPECOPS_YAML_READER_ERROR,
    SPECOPS_YAML_SCANNER_ERROR,
    SPECOPS_YAML_PARSER_ERROR
} specops_yaml_error_t;

typedef enum {
    SPECOPS_YAML_NO_EVENT,
    SPECOPS_YAML_STREAM_START_EVENT,
    SPECOPS_YAML_STREAM_END_EVENT,
    SPECOPS_YAML_DOCUMENT_START_EVENT,
    SPECOPS_YAML_DOCUMENT_END_EVENT,
    SPECOPS_YAML_ALIAS_EVENT,
    SPECOPS_YAML_SCALAR_EVENT,
    SPECOPS_YAML_SEQUENCE_START_EVENT,
    SPECOPS_YAML_SEQUENCE_END_EVENT,
    SPECOPS_YAML_MAPPING_START_EVENT,
    SPECOPS_YAML_MAPPING_END_EVENT
} specops_yaml_event_type_t;

typedef struct {
    size_t index;
    size_t line;
    size_t column;
} specops_yaml_mark_t;

typedef struct {
    unsigned char *anchor;
    unsigned char *tag;
    int implicit;
    int style;
} specops_yaml_collection_start_t;

typedef struct {
    specops_yaml_event_type_t type;
    union {
        struct { int encoding; } stream_start;
        struct {
            void *version_directive;
            struct { void *start; void *end; } tag_directives;
            int implicit;
        } document_start;
        struct { int implicit; } document_end;
        struct { unsigned char *anchor; } alias;
        struct {
            unsigned char *anchor;
            unsigned char *tag;
            unsigned char *value;
            size_t length;
            int plain_implicit;
            int quoted_implicit;
            int style;
        } scalar;
        specops_yaml_collection_start_t sequence_start;
        specops_yaml_collection_start_t mapping_start;
    } data;
    specops_yaml_mark_t start_mark;
    specops_yaml_mark_t end_mark;
} specops_yaml_event_t;

/* The first fields of yaml_parser_t. */
typedef struct {
    specops_yaml_error_t error;
    const char *problem;
    size_t problem_offset;
    int problem_value;
    specops_yaml_mark_t problem_mark;
    const char *context;
    specops_yaml_mark_t context_mark;
} specops_yaml_parser_t;

/* sizeof(yaml_parser_t) is under 1 KiB on 64-bit builds of 0.1.x and 0.2.x. */
#define SPECOPS_YAML_PARSER_BYTES 16384

#endif
