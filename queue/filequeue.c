/* placeholder: queue/filequeue.c */
typedef int sy_placeholder_filequeue_t;
