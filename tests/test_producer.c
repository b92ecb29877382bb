/* test_producer.c — queue/producer against the test broker: what shutdown's
 * producer_flush() does with results that linger.ms still holds back. */
#include "queue/producer.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "core/sy.h"
#include "kafkatest.h"

struct acks {
    int ok, failed;
};

static void on_dr(void *ud, void *opaque, int ok, rd_kafka_resp_err_t code, const char *err,
                  const rd_kafka_message_t *m)
{
    (void)opaque, (void)code, (void)err, (void)m;
    struct acks *a = ud;
    if (ok)
        a->ok++;
    else
        a->failed++;
}

static void on_fatal(void *ud, const char *reason)
{
    (void)ud;
    cr_assert_fail("fatal producer error: %s", reason);
}

static struct conf *load(const char *topic, const char *linger_ms)
{
    char text[1024], err[512] = "";
    snprintf(text, sizeof text,
             "providers = ( { name = \"kie\"; type = \"kie\"; priority = 1; base_url = "
             "\"http://127.0.0.1:1\"; api_key_env = \"SY_T_PRODUCER_KEY\"; } );\n"
             "kafka = { brokers = \"%s\"; group = \"%s\"; input_topic = \"%s-in\"; output_topic = "
             "\"%s\"; properties = { linger_ms = \"%s\"; }; };\n",
             kt_brokers(), topic, topic, topic, linger_ms);
    setenv("SY_T_PRODUCER_KEY", "k", 1);
    struct conf *c = conf_load_string(text, "t.conf", err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    return c;
}

/* Results queued under a linger far longer than the flush deadline (120 s
 * against 5 s) are still delivered: shutdown never waits out linger.ms. */
Test(producer, flush_sends_what_linger_holds_back, .timeout = 60)
{
    char topic[128];
    kt_unique(topic, sizeof topic, "plinger");
    kt_create_topic(topic, 3, 0);
    struct conf *c = load(topic, "120000");
    uv_loop_t uv;
    cr_assert_eq(uv_loop_init(&uv), 0);
    struct acks a = { 0 };
    char err[512] = "";
    struct producer *p = producer_new(&uv, c, on_dr, on_fatal, &a, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    cr_assert_eq(producer_warm(p, topic, 10000), 3);
    for (int i = 0; i < 3; i++) {
        char key[16];
        snprintf(key, sizeof key, "job-%d", i);
        cr_assert_eq(
                producer_send(p, topic, key, strlen(key), "{}", 2, NULL, NULL, err, sizeof err),
                SY_OK, "%s", err);
    }
    int lost = producer_flush(p, 5000);
    cr_expect_eq(lost, 0, "%d results lost: the flush waited for linger.ms instead of sending",
                 lost);
    cr_expect_eq(a.ok, 3, "%d of 3 delivered (%d failed)", a.ok, a.failed);
    int64_t end[3];
    kt_end_offsets(topic, 3, end);
    cr_expect_eq(end[0] + end[1] + end[2], 3, "the topic holds %lld records",
                 (long long)(end[0] + end[1] + end[2]));
    producer_free(p);
    uv_run(&uv, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&uv), 0);
    conf_free(c);
}

int main(int argc, char *argv[])
{
    return kt_run_serial(argc, argv);
}
