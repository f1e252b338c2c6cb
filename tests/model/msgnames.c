/*
 * msgnames.c - print the name of every message type the layers register, one per line, as a node
 * brought up by tests/common/testnode sees its table: names.test compares them with the message
 * types of the Promela model (mome.pml).
 */
#include <stdio.h>

#include "net/msg.h"
#include "testnode.h"

int main(void)
{
    if (testnode_up(3, 0, 1) < 0)
        return 1;
    for (int t = 1; t < MOME_WIRE_NTYPES; t++)
        if (mome_msg_def(t))
            printf("%s\n", mome_msg_name(t));
    testnode_down();
    return 0;
}
