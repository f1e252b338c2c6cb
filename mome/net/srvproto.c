/*
 * srvproto.c - the wire descriptions of the node <-> momed messages (srvproto.h): every field's
 * kind, each type's flags and payload rule, for the library's message table and for momed's
 * decoder alike.
 */
#include <stddef.h>

#include "net/srvproto.h"

#define NF(a) (uint8_t)(sizeof(a) / sizeof((a)[0]))

static const mome_field_t hello_fields[] = {MOME_FIELD(mome_srvhello_t, server, MOME_FK_RAW, 0),
                                            MOME_FIELD(mome_srvhello_t, node, MOME_FK_NODE, 0),
                                            MOME_FIELD(mome_srvhello_t, nnodes, MOME_FK_RAW, 0),
                                            MOME_FIELD(mome_srvhello_t, page_size, MOME_FK_RAW, 0),
                                            MOME_FIELD(mome_srvhello_t, pid, MOME_FK_RAW, 0)};
static const mome_field_t open_fields[] = {
    MOME_FIELD(mome_srvopen_t, id, MOME_FK_RAW, 0),
    MOME_FIELD(mome_srvopen_t, size, MOME_FK_RAW, 0),
    MOME_FIELD(mome_srvopen_t, token, MOME_FK_RAW, 0),
    MOME_FIELD(mome_srvopen_t, flags, MOME_FK_MASK, MOME_SRVO_CREATE | MOME_SRVO_EXCL),
    MOME_FIELD(mome_srvopen_t, status, MOME_FK_ERRNO, 0)};
static const mome_field_t batch_fields[] = {MOME_FIELD(mome_srvbatch_t, n, MOME_FK_RAW, 0)};
static const mome_field_t page_fields[] = {MOME_FIELD(mome_srvpage_t, seg, MOME_FK_RAW, 0),
                                           MOME_FIELD(mome_srvpage_t, page, MOME_FK_RAW, 0)};

static const mome_wire_type_t t_hello = {"SRV_HELLO", hello_fields, NF(hello_fields), 0, 0, 0, 0};
static const mome_wire_type_t t_hello_ok = {
    "SRV_HELLO_OK", hello_fields, NF(hello_fields), 0, 0, 0, 0};
static const mome_wire_type_t t_open = {
    "SRV_OPEN", open_fields, NF(open_fields), 0, 1, MOME_SRV_NAME_MAX, 0};
static const mome_wire_type_t t_open_reply = {
    "SRV_OPEN_REPLY", open_fields, NF(open_fields), 0, 0, MOME_SRV_WHY_MAX, 0};
static const mome_wire_type_t t_get = {"SRV_GET", page_fields, NF(page_fields), 0, 0, 0, 0};
static const mome_wire_type_t t_page = {
    "SRV_PAGE", page_fields, NF(page_fields), 0, 0, MOME_LEN_PAGE, 0};
static const mome_wire_type_t t_recall = {"SRV_RECALL", page_fields, NF(page_fields), 0, 0, 0, 0};
static const mome_wire_type_t t_put = {"SRV_PUT", page_fields, NF(page_fields), 0, 0, MOME_LEN_PAGE,
                                       0};
static const mome_wire_type_t t_putv = {
    "SRV_PUTV", batch_fields, NF(batch_fields), 0, 1, MOME_LEN_BATCH, MOME_BATCH_PUSH};
static const mome_wire_type_t t_ckpt = {"SRV_CKPT", open_fields, NF(open_fields), 0, 0, 0, 0};
static const mome_wire_type_t t_bye = {"SRV_BYE", NULL, 0, 0, 0, 0, 0};
static const mome_wire_type_t t_ckpt_reply = {
    "SRV_CKPT_REPLY", open_fields, NF(open_fields), 0, 0, MOME_SRV_WHY_MAX, 0};

const mome_wire_type_t *const mome_srv_types[MOME_WIRE_NTYPES] = {
    [MOME_SRV_HELLO] = &t_hello,   [MOME_SRV_HELLO_OK] = &t_hello_ok,
    [MOME_SRV_OPEN] = &t_open,     [MOME_SRV_OPEN_REPLY] = &t_open_reply,
    [MOME_SRV_GET] = &t_get,       [MOME_SRV_PAGE] = &t_page,
    [MOME_SRV_RECALL] = &t_recall, [MOME_SRV_PUT] = &t_put,
    [MOME_SRV_CKPT] = &t_ckpt,     [MOME_SRV_CKPT_REPLY] = &t_ckpt_reply,
    [MOME_SRV_PUTV] = &t_putv,     [MOME_SRV_BYE] = &t_bye,
};
