/* placeholder: providers/replicate.c */
typedef int sy_placeholder_replicate_t;
