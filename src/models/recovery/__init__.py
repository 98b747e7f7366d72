"""Recovery methods: PreGAN (fault classifier + GAN migrator), evacuate, GOBI and the published
baselines, each behind the `Method` / `RecoveryPolicy` interfaces."""
