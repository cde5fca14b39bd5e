// A suggested question clicked: the sample passes on to fill the box, which gets the focus back after Gradio's update.
(sample) => {
  setTimeout(() => document.querySelector('#dm-prompt textarea')?.focus(), 50);
  return sample;
}
