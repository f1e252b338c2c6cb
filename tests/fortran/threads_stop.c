/*
 * threads_stop.c - eight threads of each node make a failing Fortran call at once (MomeUnlock of a
 * lock they do not hold), as the iterations of an OpenMP loop do: each node must print one
 * message and abort once (each thread printed its own, the later ones without the node and the
 * cause, and aborted the job again). In C, as the Fortran tests are built without OpenMP.
 */
#include "ac_config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "mome.h"

void F77_FUNC(momeinit, MOMEINIT)(void);
void F77_FUNC(momeunlock, MOMEUNLOCK)(const int *id);

#define THREADS 8

static pthread_barrier_t together;

static void *unlock_thread(void *arg)
{
    int id = 100 + (int)(intptr_t)arg;

    pthread_barrier_wait(&together);
    F77_FUNC(momeunlock, MOMEUNLOCK)(&id);
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];

    F77_FUNC(momeinit, MOMEINIT)();
    pthread_barrier_init(&together, NULL, THREADS);
    for (intptr_t i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, unlock_thread, (void *)i) != 0) {
            perror("threads_stop: pthread_create");
            return 1;
        }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    printf("threads_stop: the program went on\n");
    return 0;
}
