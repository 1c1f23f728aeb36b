"""The metrics, one module each (SWD, MS-SSIM, PSNR/SSIM, FID, LPIPS, the classifier
Fréchet distance); `facegan.metrics.registry` asks for them by name."""
