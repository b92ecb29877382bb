/* placeholder: worker/batch.c */
typedef int sy_placeholder_batch_t;
