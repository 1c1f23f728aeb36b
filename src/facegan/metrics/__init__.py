"""The metrics, one module each (SWD, MS-SSIM, PSNR/SSIM, FID, LPIPS, the classifier
Fréchet distance). Nothing is imported here: a stage that uses one metric loads, and
depends on, that module alone."""
