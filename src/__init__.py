"""PreGAN: proactive, GAN-driven fault tolerance for containerised edge clusters."""
